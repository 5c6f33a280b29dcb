"""A generated supplier-shaped population conforms too (issue #14): small and typical EMIS- and
TPP-shaped personas from ``personas generate --style --volume``, every resource of their migrate
Bundles (both sensitivity modes) against the profile it names, with the same allowances as the
built-in cast (the profile's own contradiction)."""
import pytest

from mockprovider.app import create_app
from mockprovider.domain import generate as gen
from tests.conformance import cast
from tests.conformance.test_profiles import PROFILE_CONTRADICTIONS, _key, findings, report


@pytest.mark.parametrize("style", ["emis", "tpp"])
def test_generated_supplier_personas_conform(checker, tmp_path, style):
    folder = tmp_path / "population"
    files = gen.generate(2, f"conformance-{style}", style=style, volume="small")
    files += gen.generate(1, f"conformance-{style}-typical", style=style, volume="typical")
    gen.write_atomically(folder, files)
    app = create_app({"state_dir": str(tmp_path / "state"), "personas": str(folder), **cast.PROFILE_READING})
    client = app.test_client()
    payloads = []
    for persona in app.extensions["mockprovider"].personas:
        for sensitive in (False, True):
            body = cast.structured(client, persona, sensitive)
            assert body is not None, persona.nhs_number
            payloads.append((f"{persona.nhs_number}/{'sensitive' if sensitive else 'standard'}", body))
    assert len(payloads) == 6
    _, found = findings(checker, payloads)
    found = [(label, f) for label, f in found if _key(f) not in PROFILE_CONTRADICTIONS]
    assert not found, "profile findings:\n" + report(found)
