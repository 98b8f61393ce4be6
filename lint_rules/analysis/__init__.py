"""The analysis layer: what the rules know about a module, computed once and shared.

Imports `core` and `syntax` only. `context.FileContext` is what a rule sees; its `facts`
(`context.FileFacts`) own the shared analyses of the file:
- `llm_objects.LLMFacts`: is this expression an LLM object; which calls hand out shared LLMs;
- `header_keys.HeaderKeys`: is this key expression a conversation-scoped header key;
- `scoped_values.ScopedValues`: is this value conversation-scoped; which keys a mapping carries;
- `ownership.OwnershipAnalysis`: OWNED / BORROWED / UNKNOWN origin of an object at a statement;
- `llm_writes.WriteFinder`: writes onto LLM objects (and their dicts), with pins and guards.
Built on those: `pins` (what a statement or method pins, pin-helper recognition, method
summaries), `scoped_writes` (borrowed scoped writes, stale guards, helper routes: LLA001,
LLA003, LLA006), `llm_installs` (swaps: LLA002), `every_path` (applied on every path),
`request_headers` (LLA004), `process_state` and its `ast` stage `process_state_ast` (LLA005),
`local_bindings` (local definitions per function). Cross-module facts come from
`project_index.ProjectIndex` as `summaries`; a pin is a `pin_values.Pin`.
"""
