"""Build hook: a wheel carries the built-in cast.

``personas/`` at the top of the repository stays the one source of the built-in personas (the
Dockerfile, the tests and the README table read it there). When a wheel is built, ``build_py``
copies that folder -- persona files, ``cast.toml``, ``README.md`` and ``files/`` -- into the package
as ``mockprovider/builtin_personas/``, so ``pip install .`` (not editable) gives a ``mockprovider
serve`` that finds its cast from any directory. An editable install reads ``personas/`` in place.
Everything else is declared in setup.cfg.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithPersonas(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        source = HERE / "personas"
        if source.is_dir():
            self.copy_tree(str(source), str(Path(self.build_lib) / "mockprovider" / "builtin_personas"))


setup(cmdclass={"build_py": BuildPyWithPersonas})
