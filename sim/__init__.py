"""baasim's substrate: the world agents live in.

Scenario loading, the SimPy clock, the network model, the in-process chain, content-addressed
storage, learning (data, models, training, fusion, contribution), churn, the recorder, the run
loop and the CLI. ``sim`` never imports ``agents``: the run loop receives agent factories.
"""
