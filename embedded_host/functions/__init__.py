"""The Functions side: loading an app folder and indexing its functions as the Python worker does, calling them
with the worker's types, their settings, and the local Service Bus queue and its consumer.
"""
