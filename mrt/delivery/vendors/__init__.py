"""Chat vendors sent by our own code, each a channel plugin (mrt/delivery/base.py) registered by
target kind under `mrt.channels`: dingtalk, feishu (and lark), wecombot (and wecom), slack.

An Apprise URL of one of these vendors (`dingtalk://`, `feishu://`, `wecombot://`, `slack://`)
keeps its key and meaning but is sent here: a rich message (card, markdown, Block Kit) over the
one pooled client (mrt/delivery/webhook_http.py), and the vendor's answer read from its body
(Apprise judged these robots by HTTP status alone). See docs/CHANNELS.md.
"""
