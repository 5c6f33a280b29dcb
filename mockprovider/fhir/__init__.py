"""Persona -> FHIR STU3 resources and Bundles, OperationOutcomes, serialisation. No Flask."""
