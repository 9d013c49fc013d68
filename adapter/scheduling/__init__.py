"""The monthly scheduler: the monthly work as cron jobs (:mod:`.jobs`), each run once per
slot across instances by APScheduler and a database lock (:mod:`.scheduler`)."""
