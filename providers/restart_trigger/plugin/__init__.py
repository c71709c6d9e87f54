"""The resource plugin ``pulumi-resource-alirestart``: RestartTrigger for every Pulumi
language, on the same core as the dynamic provider.

* ``schema.json``: the package schema (package ``alirestart``), served by ``GetSchema``; the
  SDKs in ``sdk/`` are generated from it (docs/sdks.md);
* ``main``: the executable (a console script), its server and pool;
* ``server``: the gRPC servicer, one method per engine call, each a few lines over the core;
* ``names``: camelCase (the schema's) to snake_case (the core's) and back;
* ``wire``: ``Struct`` values to dicts and back, secrets kept;
* ``config``: the provider's configuration as the credential chain's settings;
* ``importing``: ``pulumi import`` of a trigger by id.
"""
