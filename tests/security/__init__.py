"""Probes an attacker or a careless resident would try, checked on the files a real server wrote."""
