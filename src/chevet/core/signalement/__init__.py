"""Signalement: internal adverse-event reports and the regulatory declarations they may lead to.

Pure domain: the categories the texts define (``taxonomy``), the report and its qualification
(``report``), the deadlines they trigger (``deadlines``), the regulatory forms and their required
fields (``forms``) and the statistics of the annual quality report (``statistics``)."""
