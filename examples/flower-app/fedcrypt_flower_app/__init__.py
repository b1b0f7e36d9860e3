"""A Flower app training a linear model with fedcrypt's secure aggregation."""
