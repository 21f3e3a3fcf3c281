import { Module } from '@nestjs/common';
import { FilesController } from './files.controller';

/** The HTTP side of files: upload, metadata, download. */
@Module({ controllers: [FilesController] })
export class FilesApiModule {}
