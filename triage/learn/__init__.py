"""Learning: classifiers (plain scikit-learn estimators), balancing, queriers, one round."""
