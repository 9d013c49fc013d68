"""Everything that speaks to the outside: upstream, card readers, HL7."""
