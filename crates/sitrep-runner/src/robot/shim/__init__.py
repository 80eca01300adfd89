# sitrep's RW package root: merged with the RW package of rw-cli-keywords (RW.CLI, ...).
__path__ = __import__("pkgutil").extend_path(__path__, __name__)
