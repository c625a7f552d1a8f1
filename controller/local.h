/*
 * local: pdsim-controller --local FILE. The PDSimulations of FILE (or stdin)
 * run as supervised processes on 127.0.0.1, with no cluster.
 *
 * Each document is validated as the API server would (crd_check) and turned
 * into children by the controller's own pd_desired. Every container of every
 * replica becomes a process with the pod's args, its ports moved to free
 * loopback ports. Each role gets one stable address, as a Service gives it:
 * the decode address is spec.service.port (or --local-port), the prefill one a
 * free port. A role with one replica listens there itself; with more, a small
 * TCP round-robin front listens there and forwards to the ready replicas. The
 * sidecars' default prefiller is the prefill address, and loopback prefill
 * targets are allowed, so the seed's "x-prefiller-host-port:
 * localhost:PORT" works too.
 *
 * Supervision works like a Deployment's: readiness from the containers'
 * readiness probes, a process that exits is started again after a backoff
 * (1 s doubling to 30 s, back to 1 s after 10 s up), and every exit is
 * logged. Children's output goes to stderr, each line prefixed with
 * "POD/CONTAINER | ". The status (the resource's own status fields, computed
 * by pd_status, with 127.0.0.1 endpoints) is printed as a table on start and
 * on every change, and written as JSON to the status file if asked.
 * SIGINT/SIGTERM stops every child (SIGTERM, then SIGKILL after 10 s) and
 * waits for it; children die with the parent even on SIGKILL
 * (PR_SET_PDEATHSIG).
 */
#ifndef PDSIM_LOCAL_H
#define PDSIM_LOCAL_H

struct local_opts {
    const char *file;        /* "-" for stdin */
    int port;                /* decode address override; -1: spec.service.port; 0: free */
    const char *status_file; /* NULL: none */
    const char *bin_dir;     /* where pdsim-simulator and pdsim-sidecar are; NULL: look */
};

/* Run until SIGINT/SIGTERM (blocked by the caller in every thread). Returns
 * the exit code: 0 after a clean stop, 2 for a bad document, 1 otherwise. */
int local_run(const struct local_opts *o);

#endif
