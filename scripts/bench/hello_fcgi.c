/* The baseline for Depot's request benchmarks: the cheapest possible
 * libfcgi responder, preforked like depot's workers, answering a JSON body
 * of the same size as GET /api/v1/storage/quota, or, for `?size=N`, a JSON
 * body of N bytes (up to 64 KiB), so a larger answer such as a page of
 * GET /files is compared with the same amount of output. */
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char body[] =
    "{\"account_type\":\"organization\",\"plan\":\"organization\",\"quota_bytes\":107374182400,"
    "\"max_file_size_bytes\":5368709120,\"max_files\":1000000,"
    "\"allowed_categories\":[\"data_source\",\"profile_image\",\"general\"]}";

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SOCKET_PATH WORKERS\n", argv[0]);
        return 2;
    }
    unlink(argv[1]);
    FCGX_Init();
    int sock = FCGX_OpenSocket(argv[1], 1024);
    if (sock < 0) return 1;
    int workers = atoi(argv[2]);
    for (int i = 1; i < workers; i++) {
        if (fork() == 0) break;
    }
    static char padded[65536];
    FCGX_Request request;
    FCGX_InitRequest(&request, sock, 0);
    while (FCGX_Accept_r(&request) >= 0) {
        const char *query = FCGX_GetParam("QUERY_STRING", request.envp);
        const char *out = body;
        int length = (int)strlen(body);
        if (query && strncmp(query, "size=", 5) == 0) {
            int size = atoi(query + 5);
            if (size >= 12 && size <= (int)sizeof(padded)) {
                memcpy(padded, "{\"pad\":\"", 8);
                memset(padded + 8, 'x', size - 10);
                memcpy(padded + size - 2, "\"}", 2);
                out = padded;
                length = size;
            }
        }
        FCGX_FPrintF(request.out, "Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
                     length);
        FCGX_PutStr(out, length, request.out);
        FCGX_Finish_r(&request);
    }
    return 0;
}
