"""The C extension of the compact index (s2r_edge/_walk.c); everything else is in pyproject.toml."""

from setuptools import Extension, setup

# The extra flags let the compiler vectorise the float sums of code_score (their order does not matter there).
setup(ext_modules=[Extension("s2r_edge._walk", ["s2r_edge/_walk.c"], extra_compile_args=["-O3", "-fassociative-math", "-fno-signed-zeros", "-fno-trapping-math"])])
