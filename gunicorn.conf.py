"""gunicorn's settings for the web process: `gunicorn -c gunicorn.conf.py --access-logfile - wsgi:app`.

The access log names the client, the time, the method, the path, the status, the size and the duration; never
what can carry a secret or a phone number:
- not the user (`%(u)s`): gunicorn prints the user name of an `Authorization: Basic` header there, and a shop
  system that sends its API key that way (`curl -u sk_…:`) would have the key printed (smscrm refuses Basic: 401);
- not the query string (`%(q)s`, nor `%(r)s`, the request line, which holds it): a member search may be a number;
- not the referrer (`%(f)s`): the previous page's URL, with its query string.
The API's paths hold ids, never phone numbers (a phone is looked up in a POST body).
"""
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
