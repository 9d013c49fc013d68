"""The pure domain: eligibility, pricing, settlement. No I/O, no framework, no clock.

Every rule names the article it comes from: ``N§n`` is the national procedures
(工伤保险跨省异地就医直接结算经办规程), ``B§n`` Beijing's implementing rules
(本市工伤保险跨省异地就医费用直接结算经办管理细则).
"""
