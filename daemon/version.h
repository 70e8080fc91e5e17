/* version.h - the release number both programs report with --version. */
#ifndef PF_VERSION_H
#define PF_VERSION_H
#define PF_VERSION "0.1.0"
#endif
