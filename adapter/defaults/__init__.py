"""The configuration that ships with the adapter: ``adapter.toml`` and ``hl7_site.toml``.

``wi-adapter config init PATH`` copies them into ``PATH`` for a site to edit; the HL7 site
profile here is also the fallback when ``[hl7] site_profile`` is left at its default and no
file of that name sits beside the config file.
"""
