"""What a source plugin is given and gives back, and the helpers it may use: the contract types
(contract.py: SourceSpec, PollContext, PollResult, Quarantined), the item checks that keep one
malformed upstream item from failing a poll (items.py) and the timestamp helpers (timestamps.py).

They sit below mrt/sources/ and the pipeline, beside mrt.api, which re-exports them: a source
module imports `mrt.api` only; the pipeline, the scheduler and the store import these types from
here.
"""
