#include "aws/aws_time.h"

#include <errno.h>
#include <stdbool.h>

/* Reads n decimal digits at s[*i]. */
static bool digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	int v = 0;
	for (int k = 0; k < n; k++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return false;
		v = v * 10 + (s[(*i)++] - '0');
	}
	*out = v;
	return true;
}

static bool expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return false;
	(*i)++;
	return true;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (no timegm(): it
 * depends on the C library's time zone handling and is not pure). */
static long long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int make_time(int y, int mo, int d, int h, int mi, int sec, long offset, time_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return -EINVAL;
	long long t = days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec - offset;
	if ((long long)(time_t)t != t)
		return -EINVAL;
	*out = (time_t)t;
	return 0;
}

int aws_time_parse_iso8601(const char *s, size_t len, time_t *out)
{
	size_t i = 0;
	int y, mo, d, h, mi, sec;
	if (!digits(s, len, &i, 4, &y) || !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &mo) ||
	    !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &d) || !expect(s, len, &i, 'T') ||
	    !digits(s, len, &i, 2, &h) || !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &mi) ||
	    !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &sec))
		return -EINVAL;
	if (i < len && s[i] == '.') {
		i++;
		size_t start = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 9)
			return -EINVAL;
	}
	long offset = 0;
	if (i < len && s[i] == 'Z') {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i++] == '-' ? -1 : 1, oh, om;
		if (!digits(s, len, &i, 2, &oh) || !expect(s, len, &i, ':') ||
		    !digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		offset = sign * (oh * 3600L + om * 60L);
	} else {
		return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	return make_time(y, mo, d, h, mi, sec, offset, out);
}

int aws_time_parse_amz(const char *s, size_t len, time_t *out)
{
	size_t i = 0;
	int y, mo, d, h, mi, sec;
	if (!digits(s, len, &i, 4, &y) || !digits(s, len, &i, 2, &mo) || !digits(s, len, &i, 2, &d) ||
	    !expect(s, len, &i, 'T') || !digits(s, len, &i, 2, &h) || !digits(s, len, &i, 2, &mi) ||
	    !digits(s, len, &i, 2, &sec) || !expect(s, len, &i, 'Z') || i != len)
		return -EINVAL;
	return make_time(y, mo, d, h, mi, sec, 0, out);
}
