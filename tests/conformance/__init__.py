"""An RFC 6455 conformance suite: a raw-socket client sends handcrafted bytes to a running bolt
server and asserts the exact answer (echoed messages, the close code and reason, that TCP closed,
and how soon). Every test runs against both codec implementations (the ``codec`` fixture)."""
