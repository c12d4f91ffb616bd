#!/usr/bin/perl
# e2e/system/fileserver.pl FILE: a static HTTP/1.0 server for one file, the
# "model registry" of the system suite and of `make demo` (perl-base only,
# so a fresh Debian machine needs nothing else). Serves FILE for GET/HEAD of
# any path on a free 127.0.0.1 port, one child process per connection;
# prints "port N" once listening, then "GET PATH" per request. (The agent's
# own download test, agent/tests/fileserver.cjs, covers Range and resume.)
use strict;
use warnings;
use IO::Socket::INET;

my $file = shift or die "usage: fileserver.pl FILE\n";
-r $file or die "fileserver: cannot read $file\n";
my $size = -s $file;
my $srv = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1', LocalPort => 0,
                                ReuseAddr => 1) or die "fileserver: listen: $!\n";
$| = 1;
$SIG{CHLD} = 'IGNORE';
$SIG{TERM} = sub { exit 0 };
print "port ", $srv->sockport(), "\n";
while (1) {
    my $c = $srv->accept or next;
    my $pid = fork;
    if (!defined $pid || $pid) { close $c; next; }
    close $srv;
    my $req = <$c> // '';
    while (my $l = <$c>) { last if $l =~ /^\r?\n$/; }
    my ($method, $path) = $req =~ m{^(\S+) (\S+)};
    $method //= '';
    print "$method ", $path // '', "\n";
    if ($method ne 'GET' && $method ne 'HEAD') {
        print $c "HTTP/1.0 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n";
        exit 0;
    }
    print $c "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: $size\r\n\r\n";
    if ($method eq 'GET') {
        open(my $f, '<:raw', $file) or exit 1;
        my $buf;
        while (read($f, $buf, 65536)) { print $c $buf or last; }
    }
    exit 0;
}
