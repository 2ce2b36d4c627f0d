"""Adapters from an ``MCPManager`` to agent frameworks; each one needs its framework's optional extra.

``patchbay.adapters.langchain`` (``pip install 'patchbay-mcp[langchain]'``): LangChain tools, prompt
messages, resource blobs and documents. The OpenAI and Anthropic tool formats need no extra and
live in ``patchbay.formats`` (and on the manager: ``tool_schemas``, ``execute``).
"""
