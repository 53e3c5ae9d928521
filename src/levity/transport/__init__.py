"""How upstream calls travel: the lean HTTP/1.1 pool (`h1`); aiohttp carries the egress-proxy case."""
