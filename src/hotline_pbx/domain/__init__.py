"""Pure domain logic of hotline-pbx: no I/O, no asyncio, no clocks.

Modules:

* :mod:`.errors` - ValidationError / ValidationErrors (field, reason, example);
* :mod:`.calendar` - business hours, dated exceptions, override, statutory hook;
* :mod:`.statutory` - China's holidays and make-up working days (chinese_calendar);
* :mod:`.roster` - supervisor, deputies, absences and the failover chain;
* :mod:`.routing` - the ``/route`` decision and its dialplan variables.

Time is always passed in as an aware ``datetime``.
"""
