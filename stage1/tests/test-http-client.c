/* The HTTP thread against a small in-process server: buffered requests,
 * retries, final answers, the substituter hooks, back-pressure (pause and
 * resume from another thread), stalls and cancellation, and the bounds a
 * hostile server meets: an endless error body, a drip under the rate
 * floor, the client's deadline. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cache/http.h"
#include "test.h"

/* ---- the server ---------------------------------------------------------- */

#define BIG_SIZE (3 * 1024 * 1024)

static int server_fd = -1;
static int server_port;
static int flaky_count, retry_after_count;

static void send_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k <= 0)
			return;
		p = (const char *)p + k;
		n -= (size_t)k;
	}
}

/* `head`, then pieces of `piece` bytes every `pause_ms` until the client
 * hangs up. */
static void send_until_gone(int fd, const char *head, size_t piece, unsigned pause_ms)
{
	char buf[16384];
	memset(buf, 'x', sizeof(buf));
	send_all(fd, head, strlen(head));
	while (send(fd, buf, piece < sizeof(buf) ? piece : sizeof(buf), MSG_NOSIGNAL) > 0)
		usleep(pause_ms * 1000);
}

static void respond(int fd, int status, const char *extra, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status,
			 len, extra ? extra : "");
	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

static void *connection(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[4096];
	size_t have = 0;
	for (;;) {
		char *end = have ? memmem(req, have, "\r\n\r\n", 4) : NULL;
		if (!end) {
			ssize_t k = recv(fd, req + have, sizeof(req) - have - 1, 0);
			if (k <= 0)
				break;
			have += (size_t)k;
			continue;
		}
		req[have] = '\0';
		char path[256] = "";
		sscanf(req, "GET %255s", path);
		bool signed_req = strstr(req, "\r\nX-Test-Signature: yes\r\n") != NULL;
		size_t used = (size_t)(end + 4 - req);
		memmove(req, req + used, have - used);
		have -= used;

		if (!strcmp(path, "/ok")) {
			respond(fd, 200, NULL, "hello", 5);
		} else if (!strcmp(path, "/flaky")) {
			if (__atomic_fetch_add(&flaky_count, 1, __ATOMIC_SEQ_CST) < 2)
				respond(fd, 503, NULL, "busy", 4);
			else
				respond(fd, 200, NULL, "finally", 7);
		} else if (!strcmp(path, "/retry-after")) {
			if (__atomic_fetch_add(&retry_after_count, 1, __ATOMIC_SEQ_CST) < 1)
				respond(fd, 429, "Retry-After: 1\r\n", "slow down", 9);
			else
				respond(fd, 200, NULL, "ok", 2);
		} else if (!strcmp(path, "/always500")) {
			respond(fd, 500, NULL, "no", 2);
		} else if (!strcmp(path, "/signed")) {
			if (signed_req)
				respond(fd, 200, NULL, "signed", 6);
			else
				respond(fd, 400, NULL, "unsigned", 8);
		} else if (!strcmp(path, "/denied")) {
			const char *b = "<Error><Code>ExpiredToken</Code></Error>";
			respond(fd, 403, NULL, b, strlen(b));
		} else if (!strcmp(path, "/big")) {
			char *body = malloc(BIG_SIZE);
			for (size_t i = 0; i < BIG_SIZE; i++)
				body[i] = (char)(i * 7);
			respond(fd, 200, NULL, body, BIG_SIZE);
			free(body);
		} else if (!strcmp(path, "/endless-404")) {
			/* an error page that never ends */
			send_until_gone(fd, "HTTP/1.1 404 X\r\nConnection: close\r\n\r\n", 16384, 0);
			break;
		} else if (!strcmp(path, "/drip")) {
			/* 1200 bytes every 0.5 s: more than the stall bound, less than the floor */
			send_until_gone(fd, "HTTP/1.1 200 X\r\nContent-Length: 1000000\r\n\r\n", 1200, 500);
			break;
		} else if (!strcmp(path, "/stall")) {
			char head[] = "HTTP/1.1 200 X\r\nContent-Length: 100\r\n\r\nabc";
			send_all(fd, head, strlen(head));
			sleep(10); /* the client must give up long before */
			break;
		} else {
			respond(fd, 404, NULL, "not here", 8);
		}
	}
	close(fd);
	return NULL;
}

static void *server(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(server_fd, NULL, NULL);
		if (c < 0)
			return NULL;
		pthread_t t;
		pthread_create(&t, NULL, connection, (void *)(intptr_t)c);
		pthread_detach(t);
	}
}

static bool start_server(void)
{
	if (server_fd >= 0)
		return true;
	server_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (bind(server_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(server_fd, 64) < 0 ||
	    getsockname(server_fd, (struct sockaddr *)&a, &len) < 0)
		return false;
	server_port = ntohs(a.sin_port);
	pthread_t t;
	pthread_create(&t, NULL, server, NULL);
	pthread_detach(t);
	return true;
}

/* ---- client side helpers --------------------------------------------- */

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	struct http_result res;   /* copy (body owned by the request) */
	size_t received;
	bool pause_every_chunk;
	unsigned pauses;
	struct http_client *client;
	struct http_request *req;
};

static void w_init(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
}

static void on_done(void *ctx, struct http_request *req, const struct http_result *res)
{
	(void)req;
	struct waiter *w = ctx;
	pthread_mutex_lock(&w->lock);
	w->res = *res;
	w->done = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static bool wait_done(struct waiter *w, int seconds)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&w->lock);
	while (!w->done && pthread_cond_timedwait(&w->cond, &w->lock, &until) == 0)
		;
	bool done = w->done;
	pthread_mutex_unlock(&w->lock);
	return done;
}

static const struct http_request_ops buffered_ops = { .on_done = on_done };

static struct http_client *client_with(struct http_client_options o)
{
	struct http_client *c = NULL;
	if (!start_server() || http_client_start(&o, &c, NULL) < 0)
		return NULL;
	return c;
}

static struct http_client *client(unsigned stall_ms)
{
	return client_with((struct http_client_options){ .max_connections = 4, .stall_timeout_ms = stall_ms });
}

/* A buffered request for `path` (max_attempts 0: the client's; sub: its
 * hooks, or NULL), started after delay_ms. */
static void submit(struct http_client *c, const char *path, struct waiter *w, struct http_request *req,
		   char *url, size_t max_body, unsigned max_attempts, unsigned delay_ms,
		   const struct substituter *sub)
{
	snprintf(url, 128, "http://127.0.0.1:%d%s", server_port, path);
	memset(req, 0, sizeof(*req));
	req->url = url;
	req->ops = &buffered_ops;
	req->ctx = w;
	req->max_body = max_body;
	req->max_attempts = max_attempts;
	req->sub = sub;
	req->use_hooks = sub != NULL;
	http_submit(c, req, delay_ms);
}

static void get(struct http_client *c, const char *path, struct waiter *w, struct http_request *req,
		char *url, const struct substituter *sub)
{
	submit(c, path, w, req, url, 1024, 0, 0, sub);
}

/* ---- cases ----------------------------------------------------------- */

static void buffered_and_final_answers(void)
{
	struct http_client *c = client(0);
	CHECK(c);
	struct waiter w1, w2;
	struct http_request r1, r2;
	char u1[128], u2[128];
	w_init(&w1);
	w_init(&w2);
	get(c, "/ok", &w1, &r1, u1, NULL);
	get(c, "/missing", &w2, &r2, u2, NULL);
	CHECK(wait_done(&w1, 10) && wait_done(&w2, 10));
	CHECK_INT(w1.res.outcome, ==, HTTP_OK);
	CHECK_INT(w1.res.body_len, ==, 5);
	CHECK_STR(w1.res.body, "hello");
	CHECK_INT(w2.res.outcome, ==, HTTP_NOT_FOUND);
	CHECK_STR(w2.res.message, "HTTP 404");
	CHECK_INT(w2.res.attempts, ==, 1);
	http_request_reset(&r1);
	http_request_reset(&r2);
	http_client_stop(c);
}

static void transient_errors_are_retried(void)
{
	struct http_client *c = client(0);
	CHECK(c);
	struct waiter w1, w2, w3;
	struct http_request r1, r2, r3;
	char u1[128], u2[128], u3[128];
	w_init(&w1);
	w_init(&w2);
	w_init(&w3);
	get(c, "/flaky", &w1, &r1, u1, NULL);
	submit(c, "/always500", &w2, &r2, u2, 1024, 3, 0, NULL);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	get(c, "/retry-after", &w3, &r3, u3, NULL);
	CHECK(wait_done(&w1, 10) && wait_done(&w2, 10) && wait_done(&w3, 10));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_INT(w1.res.outcome, ==, HTTP_OK);
	CHECK_STR(w1.res.body, "finally");
	CHECK_INT(w1.res.attempts, ==, 3);
	CHECK_INT(w2.res.outcome, ==, HTTP_TRANSIENT);
	CHECK_INT(w2.res.attempts, ==, 3);
	CHECK_STR(w2.res.message, "HTTP 500");
	/* Retry-After: 1 was honoured */
	CHECK_INT(w3.res.outcome, ==, HTTP_OK);
	CHECK_INT(w3.res.attempts, ==, 2);
	CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 950);
	struct http_stats st;
	http_client_stats(c, &st);
	CHECK_INT(st.retries, ==, 2 + 2 + 1);
	http_request_reset(&r1);
	http_request_reset(&r2);
	http_request_reset(&r3);
	http_client_stop(c);
}

static int sign(void *ctx, CURL *easy, struct curl_slist **headers, struct ip_error *err)
{
	(void)ctx;
	(void)easy;
	struct curl_slist *l = curl_slist_append(*headers, "X-Test-Signature: yes");
	if (!l)
		return ip_fail(err, -ENOMEM, "oom");
	*headers = l;
	return 0;
}

static enum substituter_verdict classify(void *ctx, long status, const char *body, size_t len,
					 struct ip_error *err)
{
	(void)ctx;
	if (status == 403 && body && memmem(body, len, "ExpiredToken", 12)) {
		ip_fail(err, -EACCES, "the credentials expired");
		return SUBST_FAIL;
	}
	return SUBST_KEEP;
}

static void substituter_hooks(void)
{
	struct http_client *c = client(0);
	CHECK(c);
	struct substituter sub;
	CHECK_INT(substituter_init(&sub, "http://127.0.0.1:1/", 0, NULL, NULL), ==, 0);
	sub.prepare_request = sign;
	sub.classify_error = classify;
	struct waiter w1, w2, w3;
	struct http_request r1, r2, r3;
	char u1[128], u2[128], u3[128];
	w_init(&w1);
	w_init(&w2);
	w_init(&w3);
	get(c, "/signed", &w1, &r1, u1, &sub);
	get(c, "/denied", &w2, &r2, u2, &sub);
	get(c, "/signed", &w3, &r3, u3, NULL); /* no hooks: unsigned */
	CHECK(wait_done(&w1, 10) && wait_done(&w2, 10) && wait_done(&w3, 10));
	CHECK_INT(w1.res.outcome, ==, HTTP_OK);
	CHECK_STR(w1.res.body, "signed");
	CHECK_INT(w2.res.outcome, ==, HTTP_FATAL);
	CHECK_STR(w2.res.message, "the credentials expired");
	CHECK_INT(w3.res.outcome, ==, HTTP_FATAL); /* 400 */
	http_request_reset(&r1);
	http_request_reset(&r2);
	http_request_reset(&r3);
	http_client_stop(c);
	substituter_free(&sub);
}

/* Streaming with back-pressure: every chunk first answered with a pause,
 * resumed from another thread, as the download workers do. */
static size_t pausing_data(void *ctx, const void *data, size_t len)
{
	struct waiter *w = ctx;
	pthread_mutex_lock(&w->lock);
	if (w->pause_every_chunk) {
		w->pause_every_chunk = false;
		w->pauses++;
		pthread_cond_broadcast(&w->cond); /* the resumer, not wait_done */
		pthread_mutex_unlock(&w->lock);
		return HTTP_PAUSE;
	}
	for (size_t i = 0; i < len; i++)
		if (((const char *)data)[i] != (char)((w->received + i) * 7)) {
			pthread_mutex_unlock(&w->lock);
			return 0;
		}
	w->received += len;
	w->pause_every_chunk = true;
	pthread_mutex_unlock(&w->lock);
	return len;
}

static const struct http_request_ops streaming_ops = { .on_data = pausing_data, .on_done = on_done };

static void *resumer(void *arg)
{
	struct waiter *w = arg;
	unsigned seen = 0;
	pthread_mutex_lock(&w->lock);
	while (!w->done) {
		if (w->pauses != seen) {
			seen = w->pauses;
			pthread_mutex_unlock(&w->lock);
			http_resume(w->client, w->req);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 50 * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &until);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void pause_and_resume(void)
{
	struct http_client *c = client(0);
	CHECK(c);
	struct waiter w;
	struct http_request r = { 0 };
	char url[128];
	w_init(&w);
	w.pause_every_chunk = true;
	w.client = c;
	w.req = &r;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", server_port);
	r.url = url;
	r.ops = &streaming_ops;
	r.ctx = &w;
	pthread_t t;
	pthread_create(&t, NULL, resumer, &w);
	http_submit(c, &r, 0);
	bool done = wait_done(&w, 30);
	pthread_mutex_lock(&w.lock);
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
	pthread_join(t, NULL);
	CHECK(done);
	CHECK_INT(w.res.outcome, ==, HTTP_OK);
	CHECK_INT(w.received, ==, BIG_SIZE);
	CHECK(w.pauses > 10);
	http_request_reset(&r);
	http_client_stop(c);
}

static void stall_is_transient_and_bounded(void)
{
	struct http_client *c = client(1000);
	CHECK(c);
	struct waiter w;
	struct http_request r;
	char url[128];
	w_init(&w);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	submit(c, "/stall", &w, &r, url, 1024, 1, 0, NULL);
	CHECK(wait_done(&w, 10));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_INT(w.res.outcome, ==, HTTP_TRANSIENT);
	CHECK(w.res.stalled);
	CHECK_CONTAINS(w.res.message, "stalled");
	CHECK(t1.tv_sec - t0.tv_sec <= 3);
	http_request_reset(&r);
	http_client_stop(c);
}

static void cancel_and_stop(void)
{
	struct http_client *c = client(0);
	CHECK(c);
	struct waiter w1, w2;
	struct http_request r1, r2;
	char u1[128], u2[128];
	w_init(&w1);
	w_init(&w2);
	get(c, "/stall", &w1, &r1, u1, NULL);
	submit(c, "/ok", &w2, &r2, u2, 16, 0, 60000, NULL); /* queued for a minute */
	usleep(200 * 1000);
	http_cancel(c, &r1);
	CHECK(wait_done(&w1, 5));
	CHECK_INT(w1.res.outcome, ==, HTTP_ABORTED);
	/* stopping ends what is still queued */
	http_client_stop(c);
	CHECK(wait_done(&w2, 1));
	CHECK_INT(w2.res.outcome, ==, HTTP_ABORTED);
	http_request_reset(&r1);
	http_request_reset(&r2);
}

static void too_large_is_refused(void)
{
	struct http_client *c = client(0);
	CHECK(c);
	struct waiter w;
	struct http_request r;
	char url[128];
	w_init(&w);
	get(c, "/big", &w, &r, url, NULL); /* max_body 1024 */
	CHECK(wait_done(&w, 10));
	CHECK_INT(w.res.outcome, ==, HTTP_FATAL);
	CHECK_CONTAINS(w.res.message, "answer larger than 1024 bytes");
	http_request_reset(&r);
	http_client_stop(c);
}

/* An endless error body is cut (the answer is its status) and the start of
 * it kept for classify_error. */
static void endless_error_body_is_cut(void)
{
	struct http_client *c = client(0);
	CHECK(c);
	struct waiter w;
	struct http_request r;
	char url[128];
	w_init(&w);
	get(c, "/endless-404", &w, &r, url, NULL);
	CHECK(wait_done(&w, 20));
	CHECK_INT(w.res.outcome, ==, HTTP_NOT_FOUND);
	CHECK_STR(w.res.message, "HTTP 404 (error body cut at 64 KiB)");
	CHECK_INT(w.res.body_len, ==, HTTP_ERROR_BODY_MAX);
	http_request_reset(&r);
	http_client_stop(c);
}

/* A drip above the stall bound but under the rate floor ends in one window. */
static void drip_below_the_floor_is_transient(void)
{
	struct http_client *c = client(1000);
	CHECK(c);
	struct waiter w;
	struct http_request r;
	char url[128];
	w_init(&w);
	submit(c, "/drip", &w, &r, url, 1000000, 1, 0, NULL);
	CHECK(wait_done(&w, 20));
	CHECK_INT(w.res.outcome, ==, HTTP_TRANSIENT);
	CHECK(w.res.stalled && w.res.too_slow);
	CHECK_STR(w.res.message, "too slow: less than 4096 bytes/s on average over 1 s");
	http_request_reset(&r);
	http_client_stop(c);
}

/* At the deadline, running and queued requests end, and so do later ones. */
static void deadline_ends_everything(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t now_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	struct http_client *c = client_with((struct http_client_options){
		.max_connections = 4, .deadline_ms = now_ms + 300 });
	CHECK(c);
	struct waiter w1, w2, w3;
	struct http_request r1, r2, r3;
	char u1[128], u2[128], u3[128];
	w_init(&w1);
	w_init(&w2);
	w_init(&w3);
	get(c, "/stall", &w1, &r1, u1, NULL);            /* running (a 30 s stall window) */
	submit(c, "/ok", &w2, &r2, u2, 16, 0, 60000, NULL); /* queued for a minute */
	CHECK(wait_done(&w1, 20) && wait_done(&w2, 20));
	CHECK(http_client_deadline_passed(c));
	get(c, "/ok", &w3, &r3, u3, NULL);               /* after the deadline */
	CHECK(wait_done(&w3, 20));
	struct waiter *all[] = { &w1, &w2, &w3 };
	for (size_t i = 0; i < 3; i++) {
		CHECK_INT(all[i]->res.outcome, ==, HTTP_FATAL);
		CHECK(all[i]->res.deadline);
		CHECK_STR(all[i]->res.message, "deadline reached");
	}
	http_request_reset(&r1);
	http_request_reset(&r2);
	http_request_reset(&r3);
	http_client_stop(c);
}

TEST_MAIN("http-client",
	  TEST_CASE(endless_error_body_is_cut),
	  TEST_CASE(drip_below_the_floor_is_transient),
	  TEST_CASE(deadline_ends_everything),
	  TEST_CASE(buffered_and_final_answers),
	  TEST_CASE(transient_errors_are_retried),
	  TEST_CASE(substituter_hooks),
	  TEST_CASE(pause_and_resume),
	  TEST_CASE(stall_is_transient_and_bounded),
	  TEST_CASE(cancel_and_stop),
	  TEST_CASE(too_large_is_refused))
