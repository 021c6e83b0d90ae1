"""The demo wing: every TEST adapter, in one package production code never imports.

What the demo, the screenshots and the tests share: the TEST eligibility directory, login
sessions and payment gateway behind the insurance, login and payment services (obviously fake
data, no real money or accounts), the in-memory verification store and audit log, and a test
OCSP responder. The services themselves (their ports, errors, texts and rules) stay in
kiosk.services; only the stand-ins for the systems they talk to live here.

An import contract in pyproject.toml keeps kiosk.demo out of every production package. The one
exception is the composition root, `kiosk.app.available_services`: until an operator connects a
real eligibility system, login backend or payment gateway, a configuration that lists those
services gets these TEST adapters.
"""
