/* SPDX-License-Identifier: BSD-2-Clause */
/* demo.h - `ksink demo`: a self-contained run on a mock Kafka cluster. */
#ifndef KS_DEMO_H
#define KS_DEMO_H

int	ks_demo_main(int argc, char **argv);

#endif
