"""Scale-out on Ray (extra ``ray``): Ray Serve for the HTTP API, Ray Data for corpora."""
