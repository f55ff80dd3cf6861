/* The stage executable, sealed in a memfd once per process: what the spawn
 * execs. A container that catches its /proc/N/exe gets a file nobody can write. */
#include "internal.h"

#include <sys/mman.h>
#include <sys/sendfile.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#define STAGE_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* The stage executable, sealed in a memfd (runts_stage_load), and what it was
 * when made: a cached fd number that Node closed and reused is not it. */
static int stage_fd = -1;
static struct stat stage_st;

static int stage_ok(void)
{
	struct stat st;
	if (stage_fd < 0 || fstat(stage_fd, &st) < 0 || st.st_dev != stage_st.st_dev || st.st_ino != stage_st.st_ino)
		return 0;
	int seals = fcntl(stage_fd, F_GET_SEALS);
	return seals >= 0 && (seals & STAGE_SEALS) == STAGE_SEALS;
}

static int copy_stage_file(int out, const char *path)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0) {
		int err = errno;
		if (in >= 0)
			close(in);
		return -err;
	}
	int rc = 0;
	for (off_t done = 0; rc == 0 && done < st.st_size;) {
		ssize_t n = sendfile(out, in, NULL, (size_t)(st.st_size - done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = n < 0 ? -errno : -EIO;
		else
			done += n;
	}
	close(in);
	return rc;
}

int runts_stage_load(const char *path, const uint8_t *bytes, uint32_t len)
{
	if (stage_ok())
		return 0;
	stage_fd = -1; /* not ours any more, if it ever changed: never closed here */
	int fd = (int)syscall(SYS_memfd_create, "runts-stage", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL) /* a kernel before 6.3 */
		fd = (int)syscall(SYS_memfd_create, "runts-stage", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	int rc = path ? copy_stage_file(fd, path) : write_all(fd, bytes, len) < 0 ? -errno : 0;
	if (rc == 0 && (fcntl(fd, F_ADD_SEALS, STAGE_SEALS) < 0 || fstat(fd, &stage_st) < 0))
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	stage_fd = fd;
	return 0;
}

int stage_exe(void)
{
	return stage_ok() ? stage_fd : -1;
}
