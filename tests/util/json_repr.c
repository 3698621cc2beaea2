/* Reads "HEX REPR" lines (Python float.hex() and repr()) and checks that
 * tess_json_format_double prints every value exactly as Python repr does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/json.h"
int main(void){ char hex[64], rep[64], out[64]; long bad=0,n=0;
 while (scanf("%63s %63s", hex, rep)==2){ double v=strtod(hex,NULL); tess_json_format_double(out,v); n++; if(strcmp(out,rep)){ if(bad<5) printf("%s: %s vs %s\n",hex,out,rep); bad++;} }
 printf("%ld passed, %ld failed\n", n - bad, bad); return bad != 0; }
