# etc: the sample configuration and the systemd unit.

# The sample is installed as ksink.ini.sample, never over a ksink.ini.
ksinkconfdir = $(sysconfdir)/ksink
nodist_ksinkconf_DATA = etc/ksink.ini.sample
EXTRA_DIST += etc/ksink.ini
CLEANFILES += etc/ksink.ini.sample
etc/ksink.ini.sample: etc/ksink.ini
	$(AM_V_GEN)$(MKDIR_P) etc && cp '$(srcdir)/etc/ksink.ini' $@

# The unit, with this build's paths, under the installation prefix
# (systemd reads /usr/local/lib/systemd/system and /usr/lib/systemd/system).
systemdunitdir = $(prefix)/lib/systemd/system
nodist_systemdunit_DATA = etc/ksink.service
EXTRA_DIST += etc/ksink.service.in
CLEANFILES += etc/ksink.service
etc/ksink.service: etc/ksink.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && sed \
	    -e 's|@bindir[@]|$(bindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    '$(srcdir)/etc/ksink.service.in' >$@.tmp && mv $@.tmp $@

# ksink -t must accept the sample; the unit must be fully substituted.
TESTS += etc/sample.test etc/unit.test
dist_check_SCRIPTS += etc/sample.test etc/unit.test
