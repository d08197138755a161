"""What every HTTP endpoint shares, below the domains' routes: the request's transaction and
who is asking."""
