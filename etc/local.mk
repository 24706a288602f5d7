# SPDX-License-Identifier: BSD-2-Clause
# etc: the sample configuration and the systemd unit.

# The sample, the unit and the installed man pages name the paths of the
# default prefix (/usr/local); they are rewritten with this build's, so
# that a package built with --prefix=/usr says where its files are.
KSINK_PATHS_SED = \
	-e 's|/usr/local/lib/systemd/system|$(systemdunitdir)|g' \
	-e 's|/usr/local/lib/ksink|$(pkglibdir)|g' \
	-e 's|/usr/local/etc/ksink|$(sysconfdir)/ksink|g' \
	-e 's|/usr/local/include|$(includedir)|g'

# The sample is installed as ksink.ini.sample, never over a ksink.ini.
ksinkconfdir = $(sysconfdir)/ksink
nodist_ksinkconf_DATA = etc/ksink.ini.sample
EXTRA_DIST += etc/ksink.ini
CLEANFILES += etc/ksink.ini.sample
etc/ksink.ini.sample: etc/ksink.ini Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && sed $(KSINK_PATHS_SED) \
	    '$(srcdir)/etc/ksink.ini' >$@.tmp && mv $@.tmp $@

# The unit, with this build's paths, under the installation prefix
# (systemd reads /usr/local/lib/systemd/system and /usr/lib/systemd/system).
# With ./configure --with-service-user=NAME it runs as that user and group
# instead of a dynamic user.
systemdunitdir = $(prefix)/lib/systemd/system
nodist_systemdunit_DATA = etc/ksink.service
EXTRA_DIST += etc/ksink.service.in
CLEANFILES += etc/ksink.service
etc/ksink.service: etc/ksink.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && sed \
	    -e 's|@sbindir[@]|$(sbindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    '$(srcdir)/etc/ksink.service.in' | \
	    awk -v user='$(SERVICE_USER)' \
	    'user != "" && /^DynamicUser=yes$$/ { \
	        print "User=" user; print "Group=" user; next } { print }' \
	    >$@.tmp && mv $@.tmp $@

# ksink -t must accept the sample; the unit must be fully substituted.
TESTS += etc/sample.test etc/unit.test
dist_check_SCRIPTS += etc/sample.test etc/unit.test
AM_TESTS_ENVIRONMENT += SERVICE_USER='$(SERVICE_USER)'; export SERVICE_USER;
