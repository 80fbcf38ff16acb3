# What MSG_PULL can fetch: named bytes-like objects (a plan, a test pattern)
# and sources that make an object from the rest of its name ("avg/3/A").
from stimfw.core.errors import ERR_NOT_FOUND, Refused


class Objects:
    def __init__(self):
        self.named = {}  # name -> bytes-like
        self.sources = {}  # prefix -> fn(rest of the name) -> bytes or None

    def put(self, name, data):
        self.named[name] = data

    def source(self, prefix, fn):
        self.sources[prefix] = fn

    def get(self, name):
        if name in self.named:
            return self.named[name]
        if isinstance(name, str):
            prefix, _, rest = name.partition("/")
            fn = self.sources.get(prefix)
            data = fn(rest) if fn is not None else None
            if data is not None:
                return data
        raise Refused(ERR_NOT_FOUND, "no object %r" % (name,),
                      {"have": sorted(self.named), "prefixes": sorted(self.sources)})
