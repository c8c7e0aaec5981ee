"""Rules: which events matter, and what to do about them.

The contract the runner relies on (mrt.rules.engine implements it):

    ruleset = compile_rules(config)          # ConfigError naming a bad rule
    ruleset.digest                           # sha256 of the canonical rules JSON (rule version)
    ruleset.canonical                        # that JSON, stored once per version
    decision = ruleset.evaluate(event, now=now)
"""

from mrt.rules.engine import Decision, RuleMatch, RuleSet, compile_rules

__all__ = ["Decision", "RuleMatch", "RuleSet", "compile_rules"]
