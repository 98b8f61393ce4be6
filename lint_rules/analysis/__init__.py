"""Domain analysis shared by the rules: what is an LLM, what is conversation-scoped, what pins.

- `llm.LLMFacts`: is this expression an LLM object; which calls hand out shared LLMs;
  `llm.trigger_tokens(config)`: prefilter tokens every LLM expression needs.
- `values.ScopedValues`: is this value conversation-scoped; scoped header keys of a mapping.
- `dataflow`: local definitions per function (flow-insensitive and reaching definitions).
- `ownership.OwnershipAnalysis`: OWNED / BORROWED / UNKNOWN origin of an object at a statement.
- `writes.WriteFinder`: writes onto LLM objects (and the dicts they hold), with pins and guards.
- `pins`: pins a method applies, pin-helper recognition, `summarize_method` for the index;
  `analysis_for(model, config)` gives the module's shared `DomainAnalysis` (one per file).
- `scope`: what LLA001/LLA003/LLA006 share (borrowed scoped writes, stale guards, helper routes).
"""
