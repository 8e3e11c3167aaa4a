"""Pure domain logic of hotline-pbx: no I/O, no asyncio, no clocks.

Modules:

* :mod:`.contract` - the names and limits other parts rely on, each defined once;
* :mod:`.errors` - ValidationError / ValidationErrors (field, reason, example);
* :mod:`.calendar` - business hours, dated exceptions, override, statutory hook
  (:mod:`.calendar.model`: the values; :mod:`.calendar.evaluation`: open or closed at an instant);
* :mod:`.statutory` - China's holidays and make-up working days (chinese_calendar);
* :mod:`.roster` - supervisor, deputies, absences and the failover chain;
* :mod:`.routing` - the ``/route`` decision and its dialplan variables.

Time is always passed in as an aware ``datetime``. Every rule about a value is
checked by its constructor; the JSON form of the values is the API's
(:mod:`hotline_pbx.api.schemas`).
"""
