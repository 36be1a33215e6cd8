"""The loyalty program's rules, from ``loyalty.yaml`` (what a purchase earns, when points
expire, the tiers, RFM scoring), and the RFM segment names.

May import ``model``, ``files`` and ``process``; never ``rendering`` or ``delivery`` beside it.
"""
