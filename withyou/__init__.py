"""WithYou core: labels, record schema, text encoding, the model bundle reader and the CLI.

Everything in this package is torch-free so that serving and evaluation can import it.
"""

__version__ = "0.1.0"
