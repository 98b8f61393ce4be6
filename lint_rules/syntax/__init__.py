"""The syntax layer: parsing, tree walking and the light semantic model of one module.

Imports only `lint_rules.core`; everything above (analysis, rules, engine) builds on it.
"""
