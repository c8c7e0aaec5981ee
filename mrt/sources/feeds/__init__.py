"""Feed sources: any RSS 2.0 / Atom 1.0 / RDF feed (`feed`), and arXiv (`arxiv`).

Both fetch the bytes through the poll's HTTP client (budgets, conditional GET, size cap) and hand
them to feedparser, which never fetches anything itself.
"""
