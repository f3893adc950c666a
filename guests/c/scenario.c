/*
 * scenario: runs a script of ioctl-level steps, one per line, and prints
 * each with the virtual time at which it finished and its result. The
 * language is in guests/SCENARIO.md; in short:
 *
 *   syncobj a b                      # two sync objects
 *   submit ring=0 cost=5ms out=a@1   # a job; its fence becomes point 1 of a
 *   submit ring=1 cost=2ms in=a@1 out=b
 *   wait b                           # blocks until the second job is done
 *   expect ok
 *
 * The script comes from the first argument if there is one, else from
 * standard input. It is read whole and checked before anything runs: a
 * mistake is reported with its line and nothing happens. Exit status: 0,
 * 1 if an `expect` did not hold, 2 for a script that does not parse.
 */
#include <fencelab.h>
#include <ctype.h>
#include <drm_fourcc.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_SCRIPT (64 * 1024)
#define MAX_LINE 256
#define MAX_NAME 31
#define MAX_OBJS 64 /* syncobjs, and sync_files, a script may name */
#define MAX_REFS 16 /* references in one step */
#define MAX_STEPS 4096

/* A syncobj, or a point on one: point 0 is the binary payload. */
struct ref {
	int obj;
	uint64_t point;
};

enum cmd { RINGS, SYNCOBJ, SUBMIT, WAIT, SIGNAL, RESET, QUERY, TRANSFER, EXPORT, IMPORT, MERGE, FLIP, SLEEP, ECHO, EXPECT };
static const char *const cmd_names[] = {
	"rings", "syncobj", "submit", "wait", "signal", "reset", "query", "transfer",
	"export", "import", "merge", "flip", "sleep", "echo", "expect",
};

struct step {
	enum cmd cmd;
	int line;
	char text[MAX_LINE]; /* the line, as shown in the output */
	struct ref refs[MAX_REFS]; /* the syncobjs named; submit's in= */
	int nrefs;
	struct ref out[MAX_REFS]; /* submit's out= */
	int nout;
	int files[3]; /* sync_files named: fence-in, fence-out; merge's three */
	uint32_t ring, count;
	int64_t ns; /* cost, sleep, timeout (-1: none) */
	int any, for_submit, signaled, reset;
	int expect; /* errno, 0 for ok */
};

static char names[2][MAX_OBJS][MAX_NAME + 1]; /* [0] syncobjs, [1] sync_files */
static int nnames[2];
static struct step *steps;
static int nsteps;
static char err[160]; /* the parse error */

/* ---- Parsing ---- */

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "ok", 0 }, { "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EINTR", EINTR }, { "EBADF", EBADF },
	{ "EAGAIN", EAGAIN }, { "ENOMEM", ENOMEM }, { "EACCES", EACCES }, { "EFAULT", EFAULT },
	{ "EBUSY", EBUSY }, { "EEXIST", EEXIST }, { "ENODEV", ENODEV }, { "EINVAL", EINVAL },
	{ "EMFILE", EMFILE }, { "ENOSPC", ENOSPC }, { "ERANGE", ERANGE }, { "ENOSYS", ENOSYS },
	{ "ETIME", ETIME }, { "EOPNOTSUPP", EOPNOTSUPP }, { "ETIMEDOUT", ETIMEDOUT }, { "ENOTTY", ENOTTY },
	{ "ENAMETOOLONG", ENAMETOOLONG }, { "E2BIG", E2BIG }, { "ENXIO", ENXIO }, { "ESRCH", ESRCH },
};

static const char *errno_name(int e)
{
	static char buf[16];
	for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
		if (errnos[i].value == e)
			return errnos[i].name;
	snprintf(buf, sizeof buf, "errno %d", e);
	return buf;
}

static int fail(const char *fmt, const char *arg)
{
	snprintf(err, sizeof err, fmt, arg);
	return -1;
}

/* name looks up (or, with declare, adds) a name of kind 0 (syncobj) or 1
 * (sync_file): its index, or -1 with err set. */
static int name(int kind, const char *s, size_t len, int declare)
{
	char n[MAX_NAME + 1];
	if (len == 0 || len > MAX_NAME || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return fail("bad name \"%.40s\" (a letter or _, then letters, digits, _; at most 31)", s);
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return fail("bad name \"%.40s\" (a letter or _, then letters, digits, _; at most 31)", s);
	memcpy(n, s, len);
	n[len] = 0;
	for (int i = 0; i < nnames[kind]; i++)
		if (strcmp(names[kind][i], n) == 0)
			return i;
	if (!declare)
		return fail(kind ? "no sync_file \"%s\" yet (made by fence-out=, export or merge)"
				 : "no syncobj \"%s\" (declare it with syncobj)", n);
	if (nnames[kind] == MAX_OBJS)
		return fail("more than 64 names (%s)", n);
	strcpy(names[kind][nnames[kind]], n);
	return nnames[kind]++;
}

/* number reads a decimal u64 of the whole of s. */
static int number(const char *s, uint64_t *v)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return fail("\"%s\" is not a number", s);
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (*end || errno)
		return fail("\"%s\" is not a number", s);
	return 0;
}

/* duration reads 5ms, 1.5s, 200us, 0 (a unit is needed but for 0) into
 * nanoseconds, at most an hour. */
static int duration(const char *s, int64_t *ns)
{
	uint64_t whole = 0, frac = 0, scale = 1;
	const char *p = s;
	if (!isdigit((unsigned char)*p))
		return fail("\"%s\" is not a duration (like 5ms, 1.5s, 200us)", s);
	while (isdigit((unsigned char)*p) && whole < 10000000000ull)
		whole = whole * 10 + (uint64_t)(*p++ - '0');
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			if (scale < 1000000000ull)
				frac = frac * 10 + (uint64_t)(*p - '0'), scale *= 10;
	uint64_t unit = 0;
	if (!strcmp(p, "s"))
		unit = 1000000000ull;
	else if (!strcmp(p, "ms"))
		unit = 1000000;
	else if (!strcmp(p, "us"))
		unit = 1000;
	else if (!strcmp(p, "ns"))
		unit = 1;
	else if (!*p && whole == 0 && frac == 0)
		unit = 1;
	if (!unit || whole > 3600ull * 1000000000ull / unit)
		return fail("\"%s\" is not a duration up to an hour (like 5ms, 1.5s, 200us)", s);
	*ns = (int64_t)(whole * unit + frac * unit / scale);
	return 0;
}

/* reference reads NAME or NAME@POINT. */
static int reference(const char *s, struct ref *r)
{
	const char *at = strchr(s, '@');
	size_t len = at ? (size_t)(at - s) : strlen(s);
	if ((r->obj = name(0, s, len, 0)) < 0)
		return -1;
	r->point = 0;
	return at ? number(at + 1, &r->point) : 0;
}

/* add appends to a step's reference list. */
static int add(struct ref *list, int *n, const char *s)
{
	if (*n == MAX_REFS)
		return fail("more than 16 references in a step (%s)", s);
	return reference(s, &list[(*n)++]);
}

/* file reads the name of a sync_file, made (declare) or used. */
static int file(const char *s, int *f, int declare)
{
	return (*f = name(1, s, strlen(s), declare)) < 0 ? -1 : 0;
}

/* parse_step fills st from the words of one line. */
static int parse_step(struct step *st, char **w, int n)
{
	const char *c = w[0];
	int i, cmd = -1;
	for (i = 0; i < (int)(sizeof cmd_names / sizeof cmd_names[0]); i++)
		if (!strcmp(c, cmd_names[i]))
			cmd = i;
	if (cmd < 0)
		return fail("unknown step \"%.40s\" (see guests/SCENARIO.md)", c);
	st->cmd = (enum cmd)cmd;
	st->ns = -1;
	st->files[0] = st->files[1] = st->files[2] = -1;
	switch (st->cmd) {
	case RINGS: {
		uint64_t v;
		if (n != 2 || number(w[1], &v) || v < 1 || v > 64)
			return fail("%s", "rings takes one count from 1 to 64");
		st->count = (uint32_t)v;
		return 0;
	}
	case SYNCOBJ:
		if (n < 2)
			return fail("%s", "syncobj takes names, and optionally signaled");
		for (i = 1; i < n; i++) {
			if (!strcmp(w[i], "signaled")) {
				st->signaled = 1;
				continue;
			}
			if (st->nrefs == MAX_REFS)
				return fail("more than 16 syncobjs in a step (%s)", w[i]);
			int k = name(0, w[i], strlen(w[i]), 0);
			if (k >= 0)
				return fail("syncobj \"%s\" already exists", w[i]);
			if ((k = name(0, w[i], strlen(w[i]), 1)) < 0)
				return -1;
			st->refs[st->nrefs++].obj = k;
		}
		return st->nrefs ? 0 : fail("%s", "syncobj takes names");
	case SUBMIT: {
		int have_ring = 0;
		st->ns = 0;
		for (i = 1; i < n; i++) {
			char *v = strchr(w[i], '=');
			if (!strcmp(w[i], "reset")) {
				st->reset = 1;
				continue;
			}
			if (!v)
				return fail("submit: \"%.40s\" is not ring=, cost=, in=, out=, fence-in=, fence-out= or reset", w[i]);
			*v++ = 0;
			uint64_t r;
			if (!strcmp(w[i], "ring")) {
				if (number(v, &r) || r > 0xffffffffull)
					return fail("submit: ring=%.40s is not a ring number", v);
				st->ring = (uint32_t)r;
				have_ring = 1;
			} else if (!strcmp(w[i], "cost")) {
				if (duration(v, &st->ns))
					return -1;
				if (st->ns > 10000000000ll)
					return fail("submit: cost=%s is more than the renderer's 10 s", v);
			} else if (!strcmp(w[i], "in")) {
				if (add(st->refs, &st->nrefs, v))
					return -1;
			} else if (!strcmp(w[i], "out")) {
				if (add(st->out, &st->nout, v))
					return -1;
			} else if (!strcmp(w[i], "fence-in")) {
				if (file(v, &st->files[0], 0))
					return -1;
			} else if (!strcmp(w[i], "fence-out")) {
				if (file(v, &st->files[1], 1))
					return -1;
			} else {
				return fail("submit: unknown key \"%.40s\"", w[i]);
			}
		}
		return have_ring ? 0 : fail("%s", "submit needs ring=N");
	}
	case WAIT:
		for (i = 1; i < n; i++) {
			if (!strcmp(w[i], "any"))
				st->any = 1;
			else if (!strcmp(w[i], "for-submit"))
				st->for_submit = 1;
			else if (!strncmp(w[i], "timeout=", 8)) {
				if (duration(w[i] + 8, &st->ns))
					return -1;
			} else if (add(st->refs, &st->nrefs, w[i]))
				return -1;
		}
		return st->nrefs ? 0 : fail("%s", "wait takes syncobjs (NAME or NAME@POINT)");
	case SIGNAL:
	case RESET:
	case QUERY:
		for (i = 1; i < n; i++)
			if (add(st->refs, &st->nrefs, w[i]))
				return -1;
		if (st->cmd != SIGNAL)
			for (i = 0; i < st->nrefs; i++)
				if (st->refs[i].point)
					return fail("%s takes syncobjs without points", cmd_names[st->cmd]);
		return st->nrefs ? 0 : fail("%s takes syncobjs", cmd_names[st->cmd]);
	case TRANSFER:
		if (n != 3)
			return fail("%s", "transfer takes a source and a destination (NAME or NAME@POINT)");
		return add(st->refs, &st->nrefs, w[1]) || add(st->out, &st->nout, w[2]) ? -1 : 0;
	case EXPORT:
		if (n != 3)
			return fail("%s", "export takes a syncobj (NAME or NAME@POINT) and a sync_file name");
		return add(st->refs, &st->nrefs, w[1]) || file(w[2], &st->files[1], 1) ? -1 : 0;
	case IMPORT:
		if (n != 3)
			return fail("%s", "import takes a sync_file name and a syncobj (NAME or NAME@POINT)");
		return file(w[1], &st->files[0], 0) || add(st->refs, &st->nrefs, w[2]) ? -1 : 0;
	case MERGE:
		if (n != 4)
			return fail("%s", "merge takes the new sync_file's name and two sync_files");
		return file(w[2], &st->files[0], 0) || file(w[3], &st->files[1], 0) || file(w[1], &st->files[2], 1) ? -1 : 0;
	case FLIP:
		if (n > 2 || (n == 2 && strncmp(w[1], "fence-in=", 9)))
			return fail("%s", "flip takes nothing or fence-in=FILE");
		return n == 2 ? file(w[1] + 9, &st->files[0], 0) : 0;
	case SLEEP:
		if (n != 2)
			return fail("%s", "sleep takes a duration");
		return duration(w[1], &st->ns);
	case ECHO:
		return 0;
	case EXPECT:
		if (n != 2)
			return fail("%s", "expect takes ok or an errno name (ETIME, EINVAL, ...)");
		for (size_t e = 0; e < sizeof errnos / sizeof errnos[0]; e++)
			if (!strcmp(w[1], errnos[e].name)) {
				st->expect = errnos[e].value;
				return 0;
			}
		return fail("expect: unknown result \"%.40s\"", w[1]);
	}
	return 0;
}

/* parse reads the whole script into steps; -1 with err (and *line) set
 * if it does not parse. */
static int parse(char *script, int *line)
{
	char *next;
	for (*line = 1; script; script = next, (*line)++) {
		next = strchr(script, '\n');
		if (next)
			*next++ = 0;
		char *hash = strchr(script, '#');
		if (hash)
			*hash = 0;
		size_t len = strlen(script);
		while (len && isspace((unsigned char)script[len - 1]))
			script[--len] = 0;
		while (isspace((unsigned char)*script))
			script++, len--;
		if (!len)
			continue;
		if (len >= MAX_LINE)
			return fail("%s", "line longer than 255 characters");
		if (nsteps == MAX_STEPS)
			return fail("%s", "more than 4096 steps");
		struct step *st = &steps[nsteps];
		memset(st, 0, sizeof *st);
		st->line = *line;
		strcpy(st->text, script);
		if (!strncmp(script, "echo", 4) && (!script[4] || isspace((unsigned char)script[4]))) {
			st->cmd = ECHO;
			nsteps++;
			continue;
		}
		char *w[MAX_REFS + 8];
		int n = 0;
		for (char *tok = strtok(script, " \t\r"); tok; tok = strtok(NULL, " \t\r")) {
			if (n == (int)(sizeof w / sizeof w[0]))
				return fail("%s", "too many words");
			w[n++] = tok;
		}
		if (parse_step(st, w, n))
			return -1;
		if (st->cmd == EXPECT && (nsteps == 0 || steps[nsteps - 1].cmd == EXPECT || steps[nsteps - 1].cmd == ECHO))
			return fail("%s", "expect follows the step whose result it checks");
		nsteps++;
	}
	return 0;
}

/* ---- Running ---- */

static int fd;
static uint32_t handles[MAX_OBJS];
static int files[MAX_OBJS];
static int64_t t0;
static uint32_t rings; /* context rings; 0 until CONTEXT_INIT */

/* The display, set up by the first flip: two dumb buffers of different
 * colours, flipped in turn. */
static struct fl_output out;
static uint32_t fbs[2], flips;

#define SYNC_IOC_MERGE _IOWR('>', 3, struct sync_merge_data)
struct sync_merge_data {
	char name[32];
	int32_t fd2;
	int32_t fence;
	uint32_t flags;
	uint32_t pad;
};

/* result is 0 or the errno of a -1 return. */
static int result(int r) { return r < 0 ? (r == -1 ? errno : -r) : 0; }

static void set_file(int f, int newfd)
{
	if (files[f] >= 0)
		fl_close(files[f]);
	files[f] = newfd;
}

static int setup_display(void)
{
	uint32_t blob;
	if (fl_output_find(fd, 0, &out))
		return -1;
	uint32_t w = out.mode.hdisplay, h = out.mode.vdisplay;
	for (int i = 0; i < 2; i++) {
		uint32_t handle, pitch;
		uint64_t size;
		uint32_t *px;
		if (fl_dumb_create(fd, w, h, &handle, &pitch, &size) || !(px = fl_dumb_map(fd, handle, size)))
			return -1;
		for (uint64_t p = 0; p < size / 4; p++)
			px[p] = i ? 0x00e08020 : 0x00204080;
		fl_munmap(px, size);
		free(px);
		uint32_t hs[4] = { handle }, ps[4] = { pitch }, os[4] = { 0 };
		if (drmModeAddFB2(fd, w, h, DRM_FORMAT_XRGB8888, hs, ps, os, &fbs[i], 0))
			return -1;
	}
	if (drmModeCreatePropertyBlob(fd, &out.mode, sizeof out.mode, &blob))
		return -1;
	drmModeAtomicReqPtr req = drmModeAtomicAlloc();
	fl_output_modeset(req, &out, blob, fbs[0]);
	int r = drmModeAtomicCommit(fd, req, DRM_MODE_ATOMIC_ALLOW_MODESET, NULL);
	drmModeAtomicFree(req);
	return r;
}

/* export_point makes a sync_file of r's fence, through a binary syncobj
 * when r names a timeline point. */
static int export_point(struct ref r, int *sync_fd)
{
	uint32_t h = handles[r.obj], tmp = 0;
	int ret;
	if (r.point) {
		if (drmSyncobjCreate(fd, 0, &tmp) || drmSyncobjTransfer(fd, tmp, 0, h, r.point, 0))
			goto out;
		h = tmp;
	}
	struct drm_syncobj_handle a = { .handle = h, .flags = DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE, .fd = -1 };
	ret = drmIoctl(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &a);
	*sync_fd = a.fd;
	if (tmp)
		drmSyncobjDestroy(fd, tmp);
	return ret;
out:
	ret = errno;
	if (tmp)
		drmSyncobjDestroy(fd, tmp);
	errno = ret;
	return -1;
}

static int import_point(int sync_fd, struct ref r)
{
	uint32_t tmp = 0;
	struct drm_syncobj_handle a = { .fd = sync_fd, .flags = DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE };
	if (!r.point) {
		a.handle = handles[r.obj];
		return drmIoctl(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &a);
	}
	if (drmSyncobjCreate(fd, 0, &tmp))
		return -1;
	a.handle = tmp;
	int ret = drmIoctl(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &a);
	if (!ret)
		ret = drmSyncobjTransfer(fd, handles[r.obj], r.point, tmp, 0, 0);
	int e = errno;
	drmSyncobjDestroy(fd, tmp);
	errno = e;
	return ret;
}

/* run_step does one step: 0 or an errno, with anything worth showing
 * appended to info. */
static int run_step(struct step *st, char *info, size_t infolen)
{
	uint32_t h[MAX_REFS];
	uint64_t pts[MAX_REFS];
	for (int i = 0; i < st->nrefs; i++)
		h[i] = handles[st->refs[i].obj], pts[i] = st->refs[i].point;
	switch (st->cmd) {
	case RINGS:
		if (fl_context_init(fd, st->count))
			return errno;
		rings = st->count;
		return 0;
	case SYNCOBJ:
		for (int i = 0; i < st->nrefs; i++)
			if (drmSyncobjCreate(fd, st->signaled ? DRM_SYNCOBJ_CREATE_SIGNALED : 0, &handles[st->refs[i].obj]))
				return errno;
		return 0;
	case SUBMIT: {
		struct fl_virtgpu_execbuffer_syncobj in[MAX_REFS], o[MAX_REFS];
		uint32_t cmd[3];
		for (int i = 0; i < st->nrefs; i++)
			in[i] = (struct fl_virtgpu_execbuffer_syncobj){ h[i], st->reset ? FL_EXECBUF_SYNCOBJ_RESET : 0, pts[i] };
		for (int i = 0; i < st->nout; i++)
			o[i] = (struct fl_virtgpu_execbuffer_syncobj){ handles[st->out[i].obj], 0, st->out[i].point };
		fl_work(cmd, (uint64_t)st->ns);
		struct fl_virtgpu_execbuffer e = {
			.flags = FL_EXECBUF_RING_IDX, .size = sizeof cmd, .command = (uintptr_t)cmd, .fence_fd = -1,
			.ring_idx = st->ring, .syncobj_stride = sizeof in[0],
			.num_in_syncobjs = (uint32_t)st->nrefs, .num_out_syncobjs = (uint32_t)st->nout,
			.in_syncobjs = (uintptr_t)in, .out_syncobjs = (uintptr_t)o,
		};
		if (st->files[0] >= 0) {
			if (files[st->files[0]] < 0)
				return EBADF;
			e.flags |= FL_EXECBUF_FENCE_FD_IN;
			e.fence_fd = files[st->files[0]];
		}
		if (st->files[1] >= 0)
			e.flags |= FL_EXECBUF_FENCE_FD_OUT;
		if (drmIoctl(fd, FL_IOCTL_VIRTGPU_EXECBUFFER, &e))
			return errno;
		if (st->files[1] >= 0)
			set_file(st->files[1], e.fence_fd);
		return 0;
	}
	case WAIT: {
		uint32_t first = 0, flags = st->any ? 0 : DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL;
		if (st->for_submit)
			flags |= DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
		int64_t deadline = st->ns < 0 ? INT64_MAX : fl_monotonic_ns() + st->ns;
		int r = drmSyncobjTimelineWait(fd, h, pts, (unsigned)st->nrefs, deadline, flags, &first);
		if (r)
			return result(r);
		if (st->any)
			snprintf(info, infolen, " (first: %s)", names[0][st->refs[first < (uint32_t)st->nrefs ? first : 0].obj]);
		return 0;
	}
	case SIGNAL:
		return result(drmSyncobjTimelineSignal(fd, h, pts, (uint32_t)st->nrefs));
	case RESET:
		return result(drmSyncobjReset(fd, h, (uint32_t)st->nrefs));
	case QUERY: {
		if (drmSyncobjQuery(fd, h, pts, (uint32_t)st->nrefs))
			return errno;
		size_t used = 0;
		for (int i = 0; i < st->nrefs && used < infolen; i++)
			used += (size_t)snprintf(info + used, infolen - used, "%s%s=%llu", i ? ", " : " (",
						 names[0][st->refs[i].obj], (unsigned long long)pts[i]);
		if (used < infolen)
			snprintf(info + used, infolen - used, ")");
		return 0;
	}
	case TRANSFER:
		return result(drmSyncobjTransfer(fd, handles[st->out[0].obj], st->out[0].point, h[0], pts[0], 0));
	case EXPORT: {
		int sync_fd;
		if (export_point(st->refs[0], &sync_fd))
			return errno;
		set_file(st->files[1], sync_fd);
		return 0;
	}
	case IMPORT:
		if (files[st->files[0]] < 0)
			return EBADF;
		return result(import_point(files[st->files[0]], st->refs[0]));
	case MERGE: {
		if (files[st->files[0]] < 0 || files[st->files[1]] < 0)
			return EBADF;
		struct sync_merge_data m = { .name = "merged", .fd2 = files[st->files[1]] };
		if (drmIoctl(files[st->files[0]], SYNC_IOC_MERGE, &m))
			return errno;
		set_file(st->files[2], m.fence);
		return 0;
	}
	case FLIP: {
		if (st->files[0] >= 0 && files[st->files[0]] < 0)
			return EBADF; /* named, but the step that makes it failed */
		if (!out.connector && setup_display())
			return errno;
		struct drm_event_vblank ev;
		drmModeAtomicReqPtr req = drmModeAtomicAlloc();
		fl_output_flip(req, &out, fbs[++flips % 2], st->files[0] >= 0 ? files[st->files[0]] : -1, NULL);
		int r = drmModeAtomicCommit(fd, req, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, NULL);
		drmModeAtomicFree(req);
		if (r || fl_read_event(fd, &ev, -1))
			return errno;
		snprintf(info, infolen, " (on screen at vblank %u)", ev.sequence);
		return 0;
	}
	case SLEEP: {
		struct timespec ts = { (time_t)(st->ns / 1000000000), (long)(st->ns % 1000000000) };
		nanosleep(&ts, NULL);
		return 0;
	}
	case ECHO:
	case EXPECT:
		return 0;
	}
	return 0;
}

static char script[MAX_SCRIPT + 1];

int main(int argc, char **argv)
{
	size_t len;
	if (argc > 1) {
		len = strlen(argv[1]);
		if (len > MAX_SCRIPT) {
			printf("scenario: the script is longer than %d bytes\n", MAX_SCRIPT);
			return 2;
		}
		memcpy(script, argv[1], len);
	} else {
		len = fread(script, 1, MAX_SCRIPT + 1, stdin);
		if (len > MAX_SCRIPT) {
			printf("scenario: the script is longer than %d bytes\n", MAX_SCRIPT);
			return 2;
		}
	}
	script[len] = 0;
	if (strlen(script) != len) {
		printf("scenario: the script has a NUL byte\n");
		return 2;
	}
	int line;
	if (!(steps = calloc(MAX_STEPS, sizeof *steps))) {
		printf("scenario: out of memory\n");
		return 2;
	}
	if (parse(script, &line)) {
		printf("scenario: line %d: %s\n", line, err);
		return 2;
	}

	if ((fd = fl_open("/dev/dri/card0", FL_O_RDWR | FL_O_CLOEXEC)) < 0) {
		printf("scenario: open /dev/dri/card0: %s\n", strerror(errno));
		return 2;
	}
	for (int i = 0; i < MAX_OBJS; i++)
		files[i] = -1;
	/* Without a rings step, a context with the rings the submits use. */
	uint32_t want = 0;
	for (int i = 0; i < nsteps && steps[i].cmd != RINGS; i++)
		if (steps[i].cmd == SUBMIT && steps[i].ring < 64 && steps[i].ring + 1 > want)
			want = steps[i].ring + 1;
	if (want && fl_context_init(fd, want)) {
		printf("scenario: CONTEXT_INIT with %u rings: %s\n", want, strerror(errno));
		return 2;
	}

	t0 = fl_monotonic_ns();
	int last = 0, failed = 0;
	for (int i = 0; i < nsteps; i++) {
		struct step *st = &steps[i];
		char info[128] = "";
		int r = run_step(st, info, sizeof info);
		double ms = (fl_monotonic_ns() - t0) / 1e6;
		if (st->cmd == ECHO) {
			const char *text = st->text + 4;
			while (isspace((unsigned char)*text))
				text++;
			printf("%10.3f ms  %s\n", ms, text);
		} else if (st->cmd == EXPECT) {
			if (last != st->expect) {
				printf("%10.3f ms  line %d: expected %s, got %s\n", ms, st->line, errno_name(st->expect),
				       errno_name(last));
				failed++;
			}
		} else {
			printf("%10.3f ms  %s: %s%s\n", ms, st->text, errno_name(r), info);
		}
		last = r;
	}
	if (failed)
		printf("scenario: %d expectation%s failed\n", failed, failed > 1 ? "s" : "");
	return failed ? 1 : 0;
}
