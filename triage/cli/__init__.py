"""Click commands: parse, open the project, call one library function, render."""
