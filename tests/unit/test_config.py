import pytest

from mockprovider.config import Settings, SettingsError


def test_defaults_match_the_assurance_suite():
    s = Settings.from_env({})
    assert (s.ods_code, s.provider_asid, s.port) == ("B82617", "918999198738", 8080)
    assert s.validation == "strict"


def test_every_setting_reads_its_environment_variable():
    s = Settings.from_env({"MOCKPROVIDER_ODS_CODE": "A12345", "MOCKPROVIDER_PORT": "9000",
                           "MOCKPROVIDER_DOCUMENTS_ENABLED": "false", "MOCKPROVIDER_VALIDATION": "lenient"})
    assert (s.ods_code, s.port, s.documents_enabled, s.validation) == ("A12345", 9000, False, "lenient")


@pytest.mark.parametrize("env", [{"MOCKPROVIDER_PORT": "eighty"}, {"MOCKPROVIDER_VALIDATION": "loose"},
                                 {"MOCKPROVIDER_GPCONNECT_ENABLED": "maybe"}])
def test_bad_values_name_the_variable(env):
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    assert list(env)[0] in str(err.value) or list(env)[0].removeprefix("MOCKPROVIDER_").lower() in str(err.value)
