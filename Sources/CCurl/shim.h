#include <curl/curl.h>

/* curl_easy_setopt, curl_easy_getinfo and curl_share_setopt are variadic, which Swift cannot call:
   one typed wrapper per argument type. */
static inline CURLcode sts_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sts_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sts_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sts_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sts_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sts_curl_setopt_share(CURL *handle, CURLSH *share) {
    return curl_easy_setopt(handle, CURLOPT_SHARE, share);
}
static inline CURLcode sts_curl_setopt_write_function(CURL *handle, curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}
static inline CURLcode sts_curl_setopt_header_function(CURL *handle, curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
}
static inline CURLcode sts_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode sts_curl_getinfo_offset(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode sts_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode sts_curl_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLSHcode sts_curl_share_setopt_long(CURLSH *share, CURLSHoption option, long value) {
    return curl_share_setopt(share, option, value);
}

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <strings.h>

/* Whether two host names are the same, ignoring case and one trailing dot on either. */
static inline int sts_same_host(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 1 && a[la - 1] == '.') la--;
    if (lb > 1 && b[lb - 1] == '.') lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* RFC 8461 §3.3 matches the policy host against DNS-IDs only (RFC 6125), but libcurl's own host check
   falls back to the subject's Common Name when a certificate has no DNS subjectAltName. OpenSSL's chain
   verification checks the host too, never against the subject, so that such a certificate fails the
   handshake with X509_V_ERR_HOSTNAME_MISMATCH. Only on the connection whose SNI name is `host`: libcurl
   gives an HTTPS proxy's TLS connection the same SSL_CTX callback, and the proxy is checked against its
   own name (libcurl always sends SNI for a host name, and the policy host is one). */
static inline int sts_verify_dns_id(X509_STORE_CTX *store, void *host) {
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    const char *name = ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;
    if (name && sts_same_host(name, host)) {
        X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(store);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1) {
            X509_STORE_CTX_set_error(store, X509_V_ERR_OUT_OF_MEM);
            return 0;
        }
    }
    return X509_verify_cert(store);
}
/* libcurl's SSL_CTX callback: every new TLS connection of the transfer verifies through sts_verify_dns_id
   (libcurl sets no verification callback of its own). */
static inline CURLcode sts_curl_ssl_ctx_dns_id(CURL *handle, void *ssl_ctx, void *host) {
    (void)handle;
    SSL_CTX_set_cert_verify_callback((SSL_CTX *)ssl_ctx, sts_verify_dns_id, host);
    return CURLE_OK;
}
/* Checks `host` (a C string that must outlive the transfer) as DNS-ID only, see sts_verify_dns_id. */
static inline CURLcode sts_curl_setopt_dns_id_only(CURL *handle, const char *host) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_SSL_CTX_FUNCTION, sts_curl_ssl_ctx_dns_id);
    return code == CURLE_OK ? curl_easy_setopt(handle, CURLOPT_SSL_CTX_DATA, (void *)host) : code;
}
