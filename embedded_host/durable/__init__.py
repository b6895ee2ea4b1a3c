"""The Durable engine: episodes, work items and timers in one SQLite file, and the client that starts and
steers instances; the replay of one episode and what its actions mean; rewind, sub-orchestrations, entities,
Durable HTTP; status and queries; the checker of recorded histories.
"""
