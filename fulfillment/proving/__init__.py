"""The proving tools: soak, chaos, invariants, benchmarks, generated data, query plans and demo data.

They prove the order domain under load and faults and fill it with data; nothing in the domain or
its interfaces imports them (tests, management commands and settings-by-dotted-path do).
"""
