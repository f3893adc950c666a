/*
 * prodcons: a compute producer and a graphics consumer in two processes,
 * sharing a timeline sync object passed through a channel (the Khronos
 * compute-then-graphics example the seed's review cites).
 *
 *	fencelab run guests/bin/prodcons.wasm guests/bin/prodcons.wasm
 *
 * The first process to find the channel empty produces: it makes the
 * timeline, sends it, and submits four 3 ms compute jobs, job i signalling
 * point i. The other consumes: job i of its own, 1 ms, waits for the
 * producer's point i (another context: waited in the guest kernel) and for
 * its own previous job (its own context: skipped, the ring orders it).
 */
#include <inttypes.h>
#include <stdio.h>

#include "fencelab.h"

#define JOBS 4

static double ms(int64_t t0) { return (fl_monotonic_ns() - t0) / 1e6; }

static int producer(int ch, int64_t t0)
{
	int fd = fl_open("/dev/dri/renderD128", FL_O_RDWR);
	uint32_t timeline;
	int sfd;
	if (fl_context_init(fd, 1) || drmSyncobjCreate(fd, 0, &timeline) || drmSyncobjHandleToFD(fd, timeline, &sfd) ||
	    fl_sendfd(ch, sfd)) {
		printf("producer: setting up: errno %d\n", errno);
		return 1;
	}
	for (uint64_t i = 1; i <= JOBS; i++) {
		uint32_t cmd[3];
		fl_work(cmd, 3000000);
		struct fl_virtgpu_execbuffer_syncobj out = { .handle = timeline, .point = i };
		if (fl_submit(fd, 0, cmd, sizeof cmd, NULL, 0, &out, 1)) {
			printf("producer: submit %" PRIu64 ": errno %d\n", i, errno);
			return 1;
		}
	}
	printf("producer: %d compute jobs submitted at %.1f ms\n", JOBS, ms(t0));
	/* Stay until the last point is done. */
	uint64_t last = JOBS;
	drmSyncobjTimelineWait(fd, &timeline, &last, 1, INT64_MAX, 0, NULL);
	printf("producer: point %d done at %.1f ms\n", JOBS, ms(t0));
	return 0;
}

static int consumer(int sfd, int64_t t0)
{
	int fd = fl_open("/dev/dri/renderD128", FL_O_RDWR);
	uint32_t shared, own;
	if (fl_context_init(fd, 1) || drmSyncobjFDToHandle(fd, sfd, &shared) || drmSyncobjCreate(fd, 0, &own)) {
		printf("consumer: setting up: errno %d\n", errno);
		return 1;
	}
	for (uint64_t i = 1; i <= JOBS; i++) {
		uint32_t cmd[3];
		fl_work(cmd, 1000000);
		struct fl_virtgpu_execbuffer_syncobj in[2] = { { .handle = shared, .point = i }, { .handle = own, .point = i - 1 } };
		struct fl_virtgpu_execbuffer_syncobj out = { .handle = own, .point = i };
		/* The first job has no previous one of its own to wait for. */
		if (fl_submit(fd, 0, cmd, sizeof cmd, in, i == 1 ? 1 : 2, &out, 1)) {
			printf("consumer: submit %" PRIu64 ": errno %d\n", i, errno);
			return 1;
		}
		printf("consumer: job %" PRIu64 " submitted at %.1f ms\n", i, ms(t0));
	}
	uint64_t last = JOBS;
	int r = drmSyncobjTimelineWait(fd, &own, &last, 1, INT64_MAX, 0, NULL);
	printf("consumer: all done at %.1f ms (%d)\n", ms(t0), r);
	return 0;
}

int main(void)
{
	int64_t t0 = fl_monotonic_ns();
	int ch = fl_open("/run/fencelab/prodcons", FL_O_RDWR);
	int sfd = fl_recvfd(ch, FL_O_NONBLOCK);
	if (sfd < 0)
		return producer(ch, t0);
	return consumer(sfd, t0);
}
