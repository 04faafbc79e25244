"""`triage serve`: screening in the browser (a thin adapter over triage.web)."""

from __future__ import annotations

import ipaddress

import click

from triage.cli.main import cli
from triage.errors import TriageError

DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cli.command("serve")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: any free port; the default falls back to a free one when taken).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback makes the page reachable from other machines "
                   "(over plain HTTP): a warning is printed.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser; only print the address.")
@click.option("--preset", default=None, help="Model preset (default: the project's).")
@click.option("--retrain-every", default=None, type=click.IntRange(min=1),
              help="Retrain after this many labels (default: the preset's schedule, as `triage screen`).")
@click.option("--retrain-in", type=click.Choice(["process", "thread"]), default="process", hidden=True,
              help="Where retrains run (benchmarks/serve_load.py compares the two).")
def serve(directory: str, port: int, host: str, no_browser: bool, preset: str | None,
          retrain_every: int | None, retrain_in: str) -> None:
    """Screen in the browser: serve the project on this machine and open the page.

    Prints an address with a random access token (the page asks each reviewer's name once per
    browser session); several reviewers may screen at once, each with their own queue. Every label
    is saved the moment its key is pressed; the model retrains in the background. Pages: Screen,
    Project (counts, sources, duplicates, stopping report, exports) and Team (dual screening:
    who screened what, conflicts, agreement). Ctrl-C stops the server."""
    import secrets
    import signal
    import threading
    import webbrowser

    from waitress import create_server

    # Ctrl-C must stop the server even when it was started from a context that ignores SIGINT
    # (a non-interactive shell's background job passes SIG_IGN on, and Python then never raises
    # KeyboardInterrupt): take the default handler back.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    from triage.web.app import create_app

    if not is_loopback(host):
        click.echo(f"Warning: serving on {host} makes the page reachable from other machines, over plain HTTP "
                   "(not encrypted). Anyone with the address (it holds the token) can read and label the "
                   "project. Use it only on a network you trust.", err=True)
    token = secrets.token_urlsafe(32)
    app = create_app(directory, token, preset, retrain_every, retrain_process=retrain_in == "process")
    state = app.extensions["triage"]
    try:
        try:
            server = create_server(app, host=host, port=port, threads=8, ident="triage")
        except OSError as e:
            if port != DEFAULT_PORT:
                raise TriageError(f"cannot listen on {host}:{port} ({e.strerror}); choose another --port") from None
            server = create_server(app, host=host, port=0, threads=8, ident="triage")
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        if ":" in shown_host:
            shown_host = f"[{shown_host}]"
        url = f"http://{shown_host}:{server.effective_port}/?token={token}"
        try:
            click.echo(f"Serving {directory} at {url}")
            click.echo("Open that address in your browser (it holds the access token). Every label is saved as "
                       "you give it; Ctrl-C stops the server.", err=True)
            if not no_browser:
                threading.Timer(0.5, webbrowser.open, args=(url,)).start()
            server.run()  # returns on Ctrl-C (waitress catches KeyboardInterrupt)
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
        click.echo("Stopped: every label given is saved.", err=True)
    finally:
        state.close()
